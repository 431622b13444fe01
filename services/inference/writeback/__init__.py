"""Write-back to helpdesks: what to post (render), how each provider takes it (clients), delivery."""
