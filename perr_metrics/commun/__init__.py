"""Les petits outils partagés par tout le cœur ; ils n'importent rien du projet.

- `formats` : nombres et dates à la française (1 234,5 ; 12 février 2021), et leur lecture ;
- `erreurs` : les problèmes trouvés dans un fichier (code stable, feuille, cellule, valeur, message) ;
- `lecture` : lecture brute des classeurs (python-calamine) et des CSV, avec l'adresse de chaque cellule ;
- `exports` : CSV et .xlsx des tableaux, formules neutralisées ; texte aligné à la française (ligne de commande) ;
- `couleurs` : palettes lisibles par les daltoniens ;
- `cadres` : les cadres nationaux (mobilisation nationale, feuille de route, Pacte de Dijon, PAQTE).
"""
