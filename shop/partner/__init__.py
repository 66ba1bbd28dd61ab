"""The partner portal: social workers and partner admins of a structure."""
