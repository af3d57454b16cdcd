-- A reserved number of the schema's sequence: the change that takes it replaces this file. Nothing to do.
SELECT 1;
