//! Scenario tests: parsing, errors with positions, rendering.
