"""Tests of meshnet.noise."""
