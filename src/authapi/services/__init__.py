"""Business logic. Services take a database session, the app's resources and the
client's details; they raise `authapi.errors` types and never touch HTTP."""
