"""The office platform's web application (Tornado)."""
