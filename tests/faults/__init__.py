"""Fault injection: kill, stall, poison and duplicate parts of a running stack, then check that
every scenario still ends as it should, with exactly its events, each published once."""
