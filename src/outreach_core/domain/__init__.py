"""Domain models: values and entities of the outreach engine."""
