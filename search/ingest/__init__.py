"""Files -> documents -> passages: what indexing reads, before anything is analysed.

``sources`` finds the files under the given paths and decodes each into a document
(detecting its encoding; HTML by its visible text), ``formats`` extracts the text of
PDF, DOCX, ODT and RTF files and says where each page starts, ``archives`` gives the
members of zip, tar and gzip files from streams, ``mail`` the text and attachments of
e-mail (.eml, .mbox, .msg), which ``sources`` reads through the same readers, ``ocr`` the
text of images and scanned PDF pages (Tesseract), ``office`` that of workbooks, slide decks,
e-books and (through Debian's programs) .doc and .xls files, and ``passages`` splits
a document's text into passages and tells each one's language.

May import: search.languages, search.errors, search.files.
"""
