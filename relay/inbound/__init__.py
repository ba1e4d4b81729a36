"""Mail coming back to the site: `relay receive` (an SMTP server for [inbound] domains) and
`relay deliver-inbound` (an MTA's pipe) store each message durably in the drop folder."""
