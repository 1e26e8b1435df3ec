"""`diff2in1 run`: the orchestrator above training, creation and report (warm-up → create → improve → report)."""
