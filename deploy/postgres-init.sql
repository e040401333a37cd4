-- The tracker store's database next to the case log (docker-compose.yml, first start only).
CREATE DATABASE lotsen_tracker OWNER lotsen;
