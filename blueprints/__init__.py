"""Flask blueprints: thin views over the identity core."""
