schema: '1.2'
module: example
contents:
  - modules/core.fga
  - modules/issues.fga
