"""Tests of the search module."""
