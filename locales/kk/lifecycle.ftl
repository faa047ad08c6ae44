# Refused lifecycle transitions, in Kazakh. Keys are `lifecycle-` and the machine code.
lifecycle-blocked = Кодты инспектор бұғаттаған: оны сатуға да, жылжытуға да болмайды.
lifecycle-not-blocked = Код бұғатталмаған.
lifecycle-already-blocked = Код бұғатталып қойған.
lifecycle-not-applied = Код әлі тауарға түсірілмеген.
lifecycle-already-applied = Код тауарға түсіріліп қойған.
lifecycle-already-introduced = Код айналымға енгізіліп қойған.
lifecycle-not-in-circulation = Код айналымда емес.
lifecycle-already-sold = Бұл кодпен тауар сатылып кеткен.
lifecycle-already-retired = Код айналымнан шығарылған.
lifecycle-written-off = Код есептен шығарылған.
lifecycle-not-sold = Тек бөлшек саудада сатылған кодты қайтаруға болады.
lifecycle-in-circulation = Айналымдағы код есептен шығарылмайды, айналымнан шығарылады.
