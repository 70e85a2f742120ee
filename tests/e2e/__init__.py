"""Tests de bout en bout dans un vrai navigateur (paquet : évite les collisions de noms avec tests/ui)."""
