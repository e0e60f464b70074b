"""How the suite observes a target: sessions, outcomes, pages, client documents and verifiers."""
