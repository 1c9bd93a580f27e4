"""The parts of tools/cgw.py, the operator's command line.

Pure modules (no network, no clock, no environment): `inputs` (request files -> requests),
`tokens` (ClientToken rules), `deadletters` (what a dead-letter queue message holds),
`outcomes` (matching outcome events to requests, the table, the results file), `defaults`
(template.yml's names). `mnsio` is the edge: every call to MNS goes through aliyun-mns-sdk there.
This package never imports localcloud or the function package.
"""
