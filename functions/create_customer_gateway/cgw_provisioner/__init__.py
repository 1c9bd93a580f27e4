"""cgw-provisioner: provisioning requests -> VPN customer gateways -> one outcome event each.

Pure core: `events` (trigger envelopes -> deliveries), `validation` (request bytes -> request or
rejection), `outcomes` (outcome -> CloudEvent). Submodules are imported where used, keeping the
package import itself free (cold start).
"""

__version__ = "0.1.0"
