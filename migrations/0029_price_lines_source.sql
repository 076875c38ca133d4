-- billing.price_lines (issue 24, item 1): a line a tenant's pricing extension added to a draft
-- invoice (a surcharge) is marked with the extension's name, so the invoice says where it
-- came from. Null for every line a person, a job, a work order or an agreement wrote.
ALTER TABLE store.billing_invoice_lines
    ADD COLUMN source text CHECK (source IS NULL OR length(source) BETWEEN 1 AND 100);
