"""The Graph side: the HTTP session, the keySets verbs and the reading of their answers,
retries, client-side pacing, writes that are never done twice (`ensure`), redaction of
secrets from errors and logs, and where to talk to (`settings`)."""
