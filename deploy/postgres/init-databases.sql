-- Runs once, when the PostgreSQL volume is first created: one database per service.
-- (Each service's init_db also creates its database if it is missing.)
CREATE DATABASE users;
CREATE DATABASE orders;
