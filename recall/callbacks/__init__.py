"""Training-dynamics callbacks: each adds metrics at the shared evaluation steps."""
