"""Reply drafting: prompts, grounding guardrails, fallback templates (no model code here)."""
