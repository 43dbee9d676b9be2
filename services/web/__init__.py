"""The pages people use: the enterprise H5, the clerk workbench and the supervisor board
(server-rendered; they call the three services' public APIs with the signed-in person's token)."""
