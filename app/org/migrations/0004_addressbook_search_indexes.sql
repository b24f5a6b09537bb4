-- The address book's search ORs a name part, a username prefix, a pinyin prefix, a 工号 and a
-- department; with an index for every arm PostgreSQL combines index scans instead of reading
-- every user (bench/README.md, finding 29). A name is searched by its characters: Chinese
-- searches are mostly one or two characters, too short for pg_trgm's trigrams.
CREATE INDEX app_user_name_characters ON app_user USING gin (string_to_array(lower(name), NULL));
CREATE INDEX app_user_username_prefix ON app_user (lower(username) text_pattern_ops);
