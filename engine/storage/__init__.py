"""Storage: the safetensors model file and the folder of named models."""
