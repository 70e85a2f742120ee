"""Du texte au brouillon : signataires, parcours des règles, puis ce qui reste à vérifier."""
from __future__ import annotations

from perr_metrics.referentiel.brouillon.regles import parcourir
from perr_metrics.referentiel.brouillon.structure import Brouillon, Lecteur
from perr_metrics.referentiel.brouillon.territoires import lire_protocole, lire_territoires
from perr_metrics.referentiel.brouillon.texte import Texte, refuser


def lire_structure(texte: Texte, nom: str = "document") -> Brouillon:
    """Le brouillon du référentiel tiré du texte d'un protocole. Lève BrouillonRefuse si ce n'est pas un protocole."""
    lecteur = Lecteur(texte)
    lecteur.lire_signataires()
    parcourir(lecteur)
    if not lecteur.engagements:
        raise refuser("protocole-non-reconnu", f"{nom} ne ressemble pas à un protocole : aucun engagement n'y a été "
                      "trouvé (ni formule « … s'engage à : », ni tableau d'engagements, ni liste sous un axe). Vérifiez "
                      "qu'il s'agit bien du texte signé du protocole.", nom)
    return finir(lecteur)


def finir(lecteur: Lecteur) -> Brouillon:
    # Les nœuds sans engagement dessous ne sont gardés que s'ils ont été lus comme une liste d'objectifs.
    gardes = [n for n in lecteur.noeuds if n.engage or n.confiance == "liste"]
    codes = {n.code for n in gardes}
    gardes = [n for n in gardes if n.parent is None or n.parent in codes]
    for n in gardes:
        if n.confiance == "liste":
            n.confiance = "moyenne"
        if not n.libelle:
            n.libelle = f"{n.niveau} {n.numero or ''}".strip()
            lecteur.verifier("Nœud", "intitulé non trouvé : à compléter", "Axes", n.code, n.page, n.ligne, n.extrait)
    for e in lecteur.engagements:
        if not e.porteurs:
            e.confiance = "faible"
            lecteur.verifier("Engagement", "aucun porteur trouvé dans le texte : à renseigner (colonne Porteurs)",
                             "Engagements", e.code, e.page, e.ligne, e.extrait)
    communes, quartiers = lire_territoires(lecteur)
    proto = lire_protocole(lecteur)
    signataires = list(lecteur.annuaire.signataires.values())
    for s in signataires:
        if not s.signe and s.confiance != "haute":
            if any(s.code in e.porteurs for e in lecteur.engagements) and s.categorie not in ("Service de l'État",):
                lecteur.verifier("Signataire", "porte des engagements mais n'est pas dans le bloc de signature : "
                                 "signataire du protocole ou partenaire associé ?", "Signataires", s.code, s.page,
                                 s.ligne, s.extrait)
        if s.categorie == "Autre":
            lecteur.verifier("Signataire", "porteur rapporté à aucun signataire connu : vérifier son nom et sa catégorie",
                             "Signataires", s.code, s.page, s.ligne, s.extrait)
    return Brouillon(proto["titre"], proto["territoire"], proto["code_territoire"], proto["annee_debut"],
                     proto["annee_fin"], gardes, lecteur.engagements, signataires, communes, quartiers,
                     lecteur.a_verifier, lecteur.departement, lecteur.texte.pages, proto["contrat"],
                     proto["date_signature"])
