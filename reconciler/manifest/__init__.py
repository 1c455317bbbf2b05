"""The manifest side: finding and reading the YAML manifests with locations, the JSON
Schema, secret references and their confinement, certificate files, custom-policy
references, loading while the tenant is read, and writing a manifest back (`export`)."""
