"""Alert processing: processor chains from YAML specs, run in consumer groups."""
