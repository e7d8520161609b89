"""outreach core: pure domain models, policies, ports and use cases. No IO, no wall clock."""
