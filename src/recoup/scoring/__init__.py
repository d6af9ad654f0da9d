"""The risk runs against the store: history, training, scoring, the model registry. The models'
rules live in the pure core :mod:`recoup.risk`; this package reads what they need from the store
and writes back what they produce."""
