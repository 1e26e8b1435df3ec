"""The self-improving method: θC labels created and unlabelled images, θE learns from them."""
