"""What the three xiaoer services truly share: settings, event contracts, Kafka and database
plumbing, authentication, the HTTP conventions and the working-day calendar."""
