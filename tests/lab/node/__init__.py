"""The lab's node side, one job per module: netns plumbing, IP allocation, processes, state file."""
