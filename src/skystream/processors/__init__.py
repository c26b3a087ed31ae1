"""Processors and sinks for pipeline chains: filters, cross-match, writers."""
