schema: '1.2'
module: acme
contents:
  - core.fga
  - team/project.fga
  - wiki.fga
