"""What is computed from runs: the paper's checks, GD vs flow, scans, orbit diagrams, Lyapunov exponents,
the Hessian sharpness, replays and summaries."""
