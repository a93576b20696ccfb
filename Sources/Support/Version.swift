/// featx's version, written into every file it produces and printed by `featx --version`.
public let featxVersion = "0.1.0"
