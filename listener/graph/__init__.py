"""The only code that speaks HTTP to Meta: the request choke point, wire models, paging."""
