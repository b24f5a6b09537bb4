-- The 文号 of a 公文's flow instance (wf_instance.business_reference, which the todo centre
-- lists): the 发文字号, else the 流水号; the 收文号, else the 来文字号. The database keeps it,
-- whoever writes: an instance takes it from its document on every write of the instance, and
-- a document hands a new number to its instances.
CREATE FUNCTION doc_business_reference(business_type text, business_id text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT COALESCE(CASE
        WHEN business_id !~ '^[0-9]{1,18}$' THEN NULL
        WHEN business_type = 'document.outgoing' THEN
            (SELECT COALESCE(doc_number, serial_no) FROM outgoing_document
              WHERE id = business_id::bigint)
        WHEN business_type = 'document.incoming' THEN
            (SELECT COALESCE(receipt_no, NULLIF(source_number, '')) FROM incoming_document
              WHERE id = business_id::bigint)
    END, '')
$$;

CREATE FUNCTION wf_instance_take_doc_reference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.business_type IN ('document.outgoing', 'document.incoming') THEN
        NEW.business_reference := doc_business_reference(NEW.business_type, NEW.business_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER wf_instance_doc_reference BEFORE INSERT OR UPDATE ON wf_instance
    FOR EACH ROW EXECUTE FUNCTION wf_instance_take_doc_reference();

-- A document's instances take its number again; a bulk load of documents (the benchmark's
-- seed, whose instances come first) does this once per statement.
CREATE FUNCTION doc_hand_reference_to_instances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE wf_instance SET business_reference = doc_business_reference(business_type, business_id)
     WHERE business_type = TG_ARGV[0]
       AND business_id IN (SELECT id::text FROM changed_documents);
    RETURN NULL;
END
$$;
CREATE TRIGGER outgoing_document_inserted_reference AFTER INSERT ON outgoing_document
    REFERENCING NEW TABLE AS changed_documents FOR EACH STATEMENT
    EXECUTE FUNCTION doc_hand_reference_to_instances('document.outgoing');
CREATE TRIGGER incoming_document_inserted_reference AFTER INSERT ON incoming_document
    REFERENCING NEW TABLE AS changed_documents FOR EACH STATEMENT
    EXECUTE FUNCTION doc_hand_reference_to_instances('document.incoming');

CREATE FUNCTION doc_number_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE wf_instance SET business_reference = doc_business_reference(business_type, business_id)
     WHERE business_type = TG_ARGV[0] AND business_id = NEW.id::text;
    RETURN NULL;
END
$$;
CREATE TRIGGER outgoing_document_number_reference AFTER UPDATE OF doc_number, serial_no
    ON outgoing_document FOR EACH ROW
    WHEN (OLD.doc_number IS DISTINCT FROM NEW.doc_number OR OLD.serial_no <> NEW.serial_no)
    EXECUTE FUNCTION doc_number_changed('document.outgoing');
CREATE TRIGGER incoming_document_number_reference AFTER UPDATE OF receipt_no, source_number
    ON incoming_document FOR EACH ROW
    WHEN (OLD.receipt_no IS DISTINCT FROM NEW.receipt_no
          OR OLD.source_number <> NEW.source_number)
    EXECUTE FUNCTION doc_number_changed('document.incoming');

UPDATE wf_instance SET business_reference = doc_business_reference(business_type, business_id)
 WHERE business_type IN ('document.outgoing', 'document.incoming');

REVOKE ALL ON FUNCTION doc_business_reference(text, text), wf_instance_take_doc_reference(),
    doc_hand_reference_to_instances(), doc_number_changed() FROM PUBLIC;
-- the triggers run as the writer (the runtime role): they call this one
GRANT EXECUTE ON FUNCTION doc_business_reference(text, text) TO {{runtime_role}};
