"""Access: scoped API keys stored as hashes, and the audit log of admin actions."""
