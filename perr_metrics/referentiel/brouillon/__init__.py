"""Le brouillon de référentiel : lire le protocole signé (.pdf, .docx, .odt, .txt, .md) et en tirer un classeur du
référentiel rempli, à corriger puis importer (docs/brouillon.md). `texte` lit le document, `structure` et `regles`
reconnaissent l'arborescence, les engagements et leurs porteurs (`tableau` : les tableaux aplatis par l'OCR),
`territoires` les communes et quartiers, `classeur` écrit le classeur avec sa feuille « À vérifier »."""
