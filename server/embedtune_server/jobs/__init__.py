"""Training, activation and add-model jobs: one at a time, in child processes, recorded in the store."""
