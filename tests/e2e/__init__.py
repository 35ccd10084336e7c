"""End-to-end tests: Mamoru driven through the Agents Playground in headless Chromium."""
