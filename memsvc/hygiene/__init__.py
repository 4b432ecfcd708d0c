"""Write-path hygiene: text normalisation, secret redaction and draft preparation."""
