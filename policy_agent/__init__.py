"""policy-agent: policy-driven customer-service agents for open reasoning models."""

__version__ = "0.1.0"
