"""The numpy side: the engine, the array API over it, and .npy streams."""
