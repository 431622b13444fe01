"""Gateway: the Flask app that takes tickets in from helpdesks and serves results."""
