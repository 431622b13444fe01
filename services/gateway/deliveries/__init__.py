"""Write-back deliveries seen from the API: the dead-letter list and manual retries."""
