"""Model work and its lifecycle: admitting, running, delivering, recovering, closing."""
